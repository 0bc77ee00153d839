"""Training: shared-encoder face-swap autoencoders on two facesets.

``config`` composes a training config (no torch: the workflow composes at parse
time), ``trainer`` trains (``train``) and loads (``load_model``, whose model has
``swap(faces, to="a"|"b")``), ``models`` the architectures, ``data`` the
batches, ``curve`` the learning curve, ``distributed`` multi-process training.
"""
