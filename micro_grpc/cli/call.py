"""`micro call` and `micro stream`: call any endpoint with a line of JSON.

The endpoint's messages come from the node itself, through server
reflection (`DynamicMethods`), so no generated code is imported here.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from asyncio import FIRST_COMPLETED
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import click
from google.protobuf.message import Message

from micro_grpc.cli.failures import (
    EXIT_NOT_FOUND,
    EXIT_REMOTE,
    EXIT_USAGE,
    Failure,
    run,
)
from micro_grpc.cli.messages import parse_json, parse_request
from micro_grpc.cli.output import echo_json, echo_json_line, message_dict
from micro_grpc.cli.state import (
    Connection,
    State,
    connect,
    metadata_pairs,
    output_option,
    pass_state,
)
from micro_grpc.client.dynamic import AnySpec, DynamicMethods
from micro_grpc.errors import ConfigError, NotFound, StatusError
from micro_grpc.methods import Cardinality

__all__ = ["COMMANDS"]


@dataclass(frozen=True, slots=True)
class CallSettings:
    service: str
    endpoint: str
    timeout: float | None
    metadata: list[tuple[str, str]]
    address: str | None


def _call_options(command: Any) -> Any:
    command = click.option(
        "--address",
        default=None,
        metavar="HOST:PORT",
        help="Call this node instead of letting the selector pick one.",
    )(command)
    command = click.option(
        "-m",
        "--metadata",
        multiple=True,
        metavar="KEY=VALUE",
        help="Send as call metadata; repeat for more.",
    )(command)
    command = click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        help="Seconds before the call fails [MICRO_CLIENT_TIMEOUT].",
    )(command)
    return command


@click.command("call")
@click.argument("service")
@click.argument("endpoint")
@click.argument("request", required=False)
@_call_options
@output_option
@pass_state
def call_command(
    state: State,
    service: str,
    endpoint: str,
    request: str | None,
    timeout: float | None,
    metadata: tuple[str, ...],
    address: str | None,
) -> None:
    """Call ENDPOINT (Greeter.Hello) of SERVICE and print the reply as JSON.

    REQUEST is the request as JSON; without it (or with -) it is read from
    stdin when stdin is not a terminal, and is empty otherwise.
    """
    data = parse_json(_request_text(request))
    settings = _settings(state, service, endpoint, timeout, metadata, address)
    reply = run(_unary(state, settings, data))
    if state.json:
        echo_json_line(message_dict(reply))
    else:
        echo_json(message_dict(reply))


async def _unary(state: State, settings: CallSettings, data: Any) -> Message:
    async with connect(state) as conn:
        spec = await _method(conn, settings)
        if spec.cardinality is not Cardinality.UNARY_UNARY:
            raise Failure(
                f"{settings.endpoint} is a {_shape(spec)} endpoint; "
                f"use: micro stream {settings.service} {settings.endpoint}",
                EXIT_USAGE,
            )
        request = parse_request(data, spec.request)
        reply: Message = await _remote(
            settings,
            conn.client.unary(
                settings.service,
                spec,
                request,
                timeout=settings.timeout,
                metadata=settings.metadata,
                address=settings.address,
            ),
        )
        return reply


@click.command("stream")
@click.argument("service")
@click.argument("endpoint")
@click.argument("request", required=False)
@_call_options
@output_option
@pass_state
def stream_command(
    state: State,
    service: str,
    endpoint: str,
    request: str | None,
    timeout: float | None,
    metadata: tuple[str, ...],
    address: str | None,
) -> None:
    """Call a streaming ENDPOINT of SERVICE; print one JSON line per reply.

    A server stream sends REQUEST (or stdin, as `micro call` does). A client
    or bidirectional stream sends REQUEST as its one message when given,
    and otherwise each line of stdin as a message, until stdin ends.
    """
    settings = _settings(state, service, endpoint, timeout, metadata, address)
    run(_stream(state, settings, request))


async def _stream(state: State, settings: CallSettings, text: str | None) -> None:
    async with connect(state) as conn:
        spec = await _method(conn, settings)
        shape = spec.cardinality
        if shape is Cardinality.UNARY_UNARY:
            raise Failure(
                f"{settings.endpoint} is a unary endpoint; "
                f"use: micro call {settings.service} {settings.endpoint}",
                EXIT_USAGE,
            )
        client = conn.client
        options: dict[str, Any] = {
            "timeout": settings.timeout,
            "metadata": settings.metadata,
            "address": settings.address,
        }
        if shape is Cardinality.UNARY_STREAM:
            request = parse_request(parse_json(_request_text(text)), spec.request)
            replies = client.server_stream(settings.service, spec, request, **options)
            await _remote(settings, _print_all(replies))
            return

        messages = _messages(spec, text)
        if shape is Cardinality.STREAM_UNARY:
            upload = client.client_stream(settings.service, spec, **options)
            reply = await _remote(settings, _upload(upload, messages))
            echo_json_line(message_dict(reply))
            return
        chat = client.bidi_stream(settings.service, spec, **options)
        await _remote(settings, _chat(chat, messages))


async def _print_all(replies: Any) -> None:
    async for reply in replies:
        echo_json_line(message_dict(reply))


async def _upload(upload: Any, messages: AsyncIterator[Message]) -> Message:
    async with upload:
        async for message in messages:
            await upload.send(message)
        reply: Message = await upload.recv()
        return reply


async def _chat(chat: Any, messages: AsyncIterator[Message]) -> None:
    async def send_all() -> None:
        async for message in messages:
            await chat.send(message)
        await chat.done_writing()

    async with chat:
        sender = asyncio.create_task(send_all())
        reader = asyncio.create_task(_print_all(chat))
        try:
            # Done when the server ends the stream, or when a request line
            # is bad; a sender still waiting on stdin then has nothing to do.
            while not reader.done():
                running = {task for task in (sender, reader) if not task.done()}
                await asyncio.wait(running, return_when=FIRST_COMPLETED)
                if sender.done() and sender.exception() is not None:
                    reader.cancel()
                    sender.result()
            reader.result()
        finally:
            sender.cancel()
            reader.cancel()


async def _messages(spec: AnySpec, text: str | None) -> AsyncIterator[Message]:
    if text is not None and text != "-":
        yield parse_request(parse_json(text), spec.request)
        return
    number = 0
    async for line in _stdin_lines():
        number += 1
        if not line.strip():
            continue
        data = parse_json(line.rstrip("\r\n"), line=number)
        yield parse_request(data, spec.request, where=f" on input line {number}")


async def _stdin_lines() -> AsyncIterator[str]:
    # A daemon thread reads stdin, so a server that ends the stream first
    # does not leave the command waiting for a line that never comes.
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="micro-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


async def _method(conn: Connection, settings: CallSettings) -> AnySpec:
    # Ask the registry first: the client's cache cannot tell an unknown
    # service from a registry that is down.
    await conn.services(settings.service)
    methods = DynamicMethods(conn.client, timeout=conn.timeout)
    try:
        return await methods.method(
            settings.service, settings.endpoint, address=settings.address
        )
    except NotFound as exc:
        raise Failure(exc.message, EXIT_NOT_FOUND) from exc
    except StatusError as exc:
        raise Failure(
            f"cannot learn the endpoints of {settings.service}: "
            f"{exc.code.name}: {exc.message}",
            EXIT_REMOTE,
        ) from exc


async def _remote(settings: CallSettings, work: Any) -> Any:
    """Await `work`; a status error names the endpoint that answered it."""
    try:
        return await work
    except StatusError as exc:
        raise Failure(
            f"{settings.service} {settings.endpoint} answered "
            f"{exc.code.name}: {exc.message}",
            EXIT_REMOTE,
        ) from exc


def _settings(
    state: State,
    service: str,
    endpoint: str,
    timeout: float | None,
    metadata: tuple[str, ...],
    address: str | None,
) -> CallSettings:
    try:
        pairs = metadata_pairs(metadata)
    except ConfigError as exc:
        raise Failure(str(exc), EXIT_USAGE) from exc
    return CallSettings(
        service=service,
        endpoint=endpoint,
        timeout=timeout if timeout is not None else state.options.client_timeout,
        metadata=pairs,
        address=address,
    )


def _request_text(request: str | None) -> str:
    if request is not None and request != "-":
        return request
    if request is None and sys.stdin.isatty():
        return ""
    return sys.stdin.read()


def _shape(spec: AnySpec) -> str:
    return {
        Cardinality.UNARY_STREAM: "server-streaming",
        Cardinality.STREAM_UNARY: "client-streaming",
        Cardinality.STREAM_STREAM: "bidirectional streaming",
    }.get(spec.cardinality, "unary")


COMMANDS = (call_command, stream_command)
