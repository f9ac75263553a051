"""Outside services we call: WeChat (every call to api.weixin.qq.com is in ``wechat.py``)."""
