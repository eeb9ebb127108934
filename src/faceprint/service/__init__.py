"""faceprint's REST service and web page (``pip install 'faceprint[serve]'``, ``faceprint serve``).

Importing this package imports nothing heavy; ``faceprint.service.app.create_app`` builds the app.

The layout, from the top: ``app`` builds the app; ``routers/`` hold one router per resource
(images, identify, subjects, faces, keys, health), which take what they need from ``deps``
(``ServiceDep``, ``AdminKey``, ``RecogniseKey``), ``uploads``, ``schemas`` and ``errors``, and
never from ``app`` or each other; ``state.Service`` is what a running process holds (gallery,
engine, batcher, keys); ``errors`` is the one table from exception types to HTTP statuses.
"""
