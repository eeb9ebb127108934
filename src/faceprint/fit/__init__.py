"""The fitters: each one measures on data and writes the JSON file that the library reads at run time.

One module per kind of threshold, each re-runnable on the command line (``--help`` says how):

- ``python -m faceprint.fit.verification``: the models' default verification thresholds and fusion
  weights on LFW View 1 (``models/calibration.json``); also ``calibrate_folder``, a user's own
  threshold at a false accept rate (``faceprint calibrate ROOT``).
- ``python -m faceprint.fit.identification``: the impostor-distance curves behind the default
  identification thresholds (``ident_thresholds.json``); also the calibration of one gallery
  (``faceprint calibrate ROOT --gallery G``).
- ``python -m faceprint.fit.clustering``: the average-linkage cut per model on CelebA chips
  (``cluster_thresholds.json``).

``embedding`` holds what they share: labelled photos to vectors.

The runtime side, which only reads those files and does the maths, is ``faceprint.thresholds``.
"""
