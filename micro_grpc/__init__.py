"""micro-grpc: a gRPC-native microservice toolkit."""
