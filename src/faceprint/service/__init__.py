"""faceprint's REST service and web page (``pip install 'faceprint[serve]'``, ``faceprint serve``).

Importing this package imports nothing heavy; ``faceprint.service.app.create_app`` builds the app.
"""
