"""The implementation of the public Python API (:mod:`preference_dissect`): thin functions
over the stage packages, the same library functions the CLI verbs and the main job call."""
