"""The IVR: call flows as data per DID (model, save-time checks) and the pure walker."""
