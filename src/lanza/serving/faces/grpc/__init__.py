"""Open Inference Protocol v2 over gRPC: ``inference.GRPCInferenceService``.

``open_inference.proto`` is the protocol; ``open_inference_pb2`` is generated from it
(``make protos``). ``face`` serves it on ``--grpc-port`` through the same data plane,
API keys and metrics as the HTTP faces.
"""
