"""The one place where the shared face and voice models are loaded and cached, one module per family.

* `core.media.loaders.dlib_faces`: dlib's HOG face detector, its 5-point landmark model and
  its 128-d face recognition model (`face_detector()`, `face_encoder()`);
* `core.media.loaders.resemblyzer_voice`: resemblyzer's speaker encoder (`voice_encoder()`);
* the BlazeFace and face-mesh TFLite models of the anonymizer are loaded per thread by
  `avatars.engine.anonymize.models.load` (an interpreter is not thread-safe).

Every engine (the studio's, the scanner's, provenance's) reaches a model through these public
accessors; each model is loaded once per process on first use, so importing this package stays
cheap and a server without a model fails only when the model is needed, with a `MediaError`
naming what to install.
"""
