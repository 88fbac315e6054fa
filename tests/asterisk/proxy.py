"""A TCP relay between the service and Asterisk that a test can cut, like a network blip,
or slow down (everything Asterisk sends arrives `delay_s` later, in order)."""

from __future__ import annotations

import asyncio
import contextlib


class CuttableProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._refusing = False
        self.delay_s = 0.0  # added to everything Asterisk sends (events, REST answers)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Drop every open connection and refuse new ones until `restore()`."""
        self._refusing = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self._refusing = False

    async def close(self) -> None:
        await self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._late_pipe(up_reader, writer))

    async def _late_pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Asterisk -> the service: each chunk written `delay_s` after it came, in order."""
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def later() -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while True:
                    due, data = await chunks.get()
                    await asyncio.sleep(max(0.0, due - loop.time()))
                    if not data:
                        return
                    writer.write(data)
                    await writer.drain()

        sender = asyncio.ensure_future(later())
        try:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await reader.read(65536):
                    chunks.put_nowait((loop.time() + self.delay_s, data))
            chunks.put_nowait((loop.time() + self.delay_s, b""))
            await sender
        finally:
            sender.cancel()
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()
