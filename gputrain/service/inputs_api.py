"""The HTTP routes for input files: upload (streamed), list, delete.

An input that a queued or running job uses cannot be replaced or deleted (409): the job
was submitted with its size and SHA-256. :attr:`InputRoutes.lock` orders an upload's final
rename against a submission's digest, so neither sees the other half done.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from gputrain.service.datadir import DataDir
from gputrain.service.docs import UPLOAD_BODY
from gputrain.service.inputs import (
    UnsafePath,
    UploadTooLarge,
    UploadWriter,
    list_inputs,
    resolve_input,
)
from gputrain.service.nospace import NoSpace, is_full
from gputrain.service.store import JobStore

log = logging.getLogger("gputrain.service")


class InputRoutes:
    def __init__(self, api: APIRouter, data: DataDir, store: JobStore, max_upload_bytes: int):
        self.data, self.store, self.max_upload_bytes = data, store, max_upload_bytes
        self.lock = threading.Lock()
        api.put("/inputs/{name:path}", status_code=201, tags=["inputs"],
                openapi_extra=UPLOAD_BODY)(self.upload)
        api.delete("/inputs/{name:path}", status_code=204, tags=["inputs"])(self.delete)
        api.get("/inputs", tags=["inputs"])(self.list_all)

    def name_of(self, path: Path) -> str:
        """``path``'s name relative to the inputs directory (as jobs record it)."""
        return path.relative_to(self.data.inputs.resolve()).as_posix()

    def resolve(self, name: str) -> Path:
        try:
            return resolve_input(self.data.inputs, name)
        except UnsafePath as e:
            raise HTTPException(400, str(e)) from None

    def refuse_if_used(self, target: Path) -> None:
        users = self.store.active_using(self.name_of(target))
        if users:
            raise HTTPException(409, f"input {self.name_of(target)} is used by queued or "
                                     f"running job(s) {', '.join(users)}: replacing it would "
                                     "change what they train on; use a new name, or wait for "
                                     "or cancel them")

    def _commit_unless_used(self, writer: UploadWriter, target: Path) -> int:
        with self.lock:
            try:
                self.refuse_if_used(target)
            except HTTPException:
                writer.abort()
                raise
            return writer.commit()

    async def upload(self, name: str, request: Request) -> dict:
        """Upload an input file (the raw request body), streamed to disk."""
        target = self.resolve(name)
        if target.is_dir():
            raise HTTPException(409, f"{name} is a directory")
        self.refuse_if_used(target)
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_upload_bytes:
            raise HTTPException(413, f"upload is larger than the limit of "
                                     f"{self.max_upload_bytes} bytes")
        try:
            writer = await run_in_threadpool(UploadWriter, target, self.max_upload_bytes)
        except OSError as e:  # e.g. a parent "directory" that is a file, or a full disk
            if is_full(e):
                raise NoSpace(f"inputs/{name}") from None
            raise HTTPException(409, f"cannot write {name}: {e.strerror or e}") from None
        try:
            async for chunk in request.stream():
                await run_in_threadpool(writer.write, chunk)
            size = await run_in_threadpool(self._commit_unless_used, writer, target)
        except UploadTooLarge as e:
            raise HTTPException(413, str(e)) from None
        except OSError as e:
            writer.abort()
            if is_full(e):
                raise NoSpace(f"inputs/{name}") from None
            raise
        except ClientDisconnect:
            writer.abort()
            log.warning("upload of %s abandoned: the client disconnected after %d bytes",
                        name, writer.size)
            return Response(status_code=400)  # nobody is there to read it
        except BaseException:
            writer.abort()
            raise
        return {"name": self.name_of(target), "size_bytes": size}

    def delete(self, name: str) -> Response:
        """Delete an input file (409 while a queued or running job uses it)."""
        target = self.resolve(name)
        with self.lock:
            if not target.is_file():
                raise HTTPException(404, f"no input {name}")
            self.refuse_if_used(target)
            target.unlink()
        return Response(status_code=204)

    def list_all(self) -> list[dict]:
        """The input files (relative names and sizes)."""
        return list_inputs(self.data.inputs)
