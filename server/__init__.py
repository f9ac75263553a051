"""Xiuhua 绣花: the backend of the urban-management bureau's WeChat mini-program.

The application factory is ``server.app.create_app``; see README "Code layout" for the packages.
"""
