"""SacralTumorAI core: image I/O, models, hip-bone frame, classifier, training and evaluation.

This package is free of Slicer, VTK and Qt so that it runs the same way from the command line, in desktop
Slicer, in slicer-core and in the browser app. The scene layer (``SacralTumorAILib``) builds on it; it never
imports that layer.
"""

__version__ = "0.1.0"
