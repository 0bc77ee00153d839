"""Training: shared-encoder face-swap autoencoders on two facesets.

``config`` composes a training config (no torch: the workflow composes at parse
time), within what ``reach`` lets Hydra read, ``trainer`` is the loop (``train``), ``checkpoint`` saves and finds the
states it resumes from, ``device`` says where and how it computes, ``models``
the architectures, ``data`` the facesets and batches, ``curve`` the learning
curve, ``distributed`` multi-process training, ``model_io`` writes the model
folder and loads its model (``load_model``, whose model has
``swap(faces, to="a"|"b")``).
"""
