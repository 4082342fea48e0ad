"""gRPC scaffolding shared by every service: server construction, interceptors, client channels."""
