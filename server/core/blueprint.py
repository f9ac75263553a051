"""The Blueprint of the mini-program API: flask-smorest's, with one argument schema per class.

webargs instantiates a schema class given to ``@blp.arguments`` on every request, deep-copying
its declared fields (a tenth of the cost of a small GET; bench/perf/profile.py). Our argument
schemas keep no per-request state, so each class is instantiated once and reused.
"""

import flask_smorest
import marshmallow as ma
from webargs.flaskparser import FlaskParser


class SchemaReusingParser(FlaskParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._instances: dict[type, ma.Schema] = {}

    def _get_schema(self, argmap, req) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._instances.get(argmap)
            if schema is None:
                schema = self._instances[argmap] = argmap()
            return schema
        return super()._get_schema(argmap, req)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = SchemaReusingParser()
