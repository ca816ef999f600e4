"""Generated labelled pelvic-tumour cases: a procedural pelvis, six tumour classes, lesions in real CT.

No public sacral-tumour images exist that this project can reach, so the models are trained, tested and
benchmarked on cases made here. See docs/data-engine.md for the anatomy, the class table and the limits.
"""
