"""protoc-gen-micro: the protoc plugin that writes micro-grpc services."""

__version__ = "0.1.0"
