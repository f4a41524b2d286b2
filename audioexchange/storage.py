"""Static files storage for production."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files whose ES module imports are rewritten to hashed names
    too, so a browser never mixes a new `call.js` with an old cached module after a deploy."""

    support_js_module_import_aggregation = True
