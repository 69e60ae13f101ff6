"""The faces of the data plane: each one decodes its protocol to one request type and
encodes the answer back, with its own error shape; the data plane does the rest."""
