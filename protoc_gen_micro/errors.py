"""The one error the plugin raises for bad input."""


class PluginError(Exception):
    """Input protoc-gen-micro cannot turn into code.

    The message is sent back to protoc in the response's `error` field, which
    protoc prints before it exits non-zero; it names the file and the service
    or rpc at fault, so it must read well on its own.
    """
