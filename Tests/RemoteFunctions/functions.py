"""Remote functions for the engine's tests, written with the official StateFun Python SDK.

Usage: python functions.py PORT [TOPIC]. Serves http://127.0.0.1:PORT/statefun until killed (port
0: any free port, printed on the first line). Every test function writes what it observed to
the Kafka egress `remote/out`, topic TOPIC, keyed by the function's id. GET /stats answers
`requests invocations` served so far (the benchmark's batch sizes).
"""
import os
import signal
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from statefun import (Context, IntType, Message, RequestReplyHandler, StatefulFunctions, ValueSpec,
                      kafka_egress_message, message_builder)

functions = StatefulFunctions()
OUT = sys.argv[2] if len(sys.argv) > 2 else "remote-out"
served = {"requests": 0, "invocations": 0}
lock = threading.Lock()


def out(context: Context, value: str):
    context.send_egress(kafka_egress_message(typename="remote/out", topic=OUT, key=context.address.id, value=value))


@functions.bind(typename="remote/counter", specs=[ValueSpec(name="count", type=IntType)])
def counter(context: Context, message: Message):
    """Counts its invocations; says `id=count`, and who called when it was a function."""
    count = (context.storage.count or 0) + 1
    context.storage.count = count
    caller = f" from {context.caller.typename}/{context.caller.id}" if context.caller else ""
    out(context, f"{context.address.id}={count}{caller}")


@functions.bind(typename="remote/relay")
def relay(context: Context, message: Message):
    """`to:TYPE:ID`: sends the rest of the message's text to that address as a string."""
    text = message.as_string()
    _, typename, target, payload = text.split(":", 3)
    context.send(message_builder(target_typename=typename, target_id=target, str_value=payload))


@functions.bind(typename="remote/reminder")
def reminder(context: Context, message: Message):
    """`set:TOKEN:MS` schedules a `fired:TOKEN` to itself; `cancel:TOKEN` cancels it."""
    parts = message.as_string().split(":")
    if parts[0] == "set":
        context.send_after(timedelta(milliseconds=int(parts[2])),
                           message_builder(target_typename="remote/reminder", target_id=context.address.id,
                                           str_value=f"fired:{parts[1]}"),
                           cancellation_token=parts[1])
    elif parts[0] == "cancel":
        context.cancel_delayed_message(parts[1])
    out(context, message.as_string())


@functions.bind(typename="remote/visitor",
                specs=[ValueSpec(name="visits", type=IntType, expire_after_write=timedelta(milliseconds=1500))])
def visitor(context: Context, message: Message):
    """Counts visits; the count is forgotten 1.5 s after it was last written."""
    visits = (context.storage.visits or 0) + 1
    context.storage.visits = visits
    out(context, f"visits={visits}")


@functions.bind(typename="remote/failing")
def failing(context: Context, message: Message):
    """Raises on `boom`; says `ok:TEXT` otherwise."""
    if message.as_string() == "boom":
        raise ValueError("boom")
    out(context, "ok:" + message.as_string())


@functions.bind(typename="remote/bench-counter", specs=[ValueSpec(name="count", type=IntType)])
def bench_counter(context: Context, message: Message):
    """The benchmark's function: counts, and echoes the payload to the topic its type names."""
    with lock:
        served["invocations"] += 1
    context.storage.count = (context.storage.count or 0) + 1
    context.send_egress(kafka_egress_message(typename="remote/out", topic=message.value_typename().split("/", 1)[1],
                                             key=context.address.id, value=message.raw_value()))


handler = RequestReplyHandler(functions)


class Endpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms wait between them

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with lock:
            served["requests"] += 1
        try:
            reply, status = handler.handle_sync(body), 200
        except Exception as error:  # the SDK raises what the function raised
            reply, status = str(error).encode(), 500
        self.answer(status, reply)

    def do_GET(self):
        with lock:
            self.answer(200, f"{served['requests']} {served['invocations']}".encode())

    def answer(self, status: int, reply: bytes):
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 256  # the engine opens a connection per address in flight
    daemon_threads = True


def exit_with_parent():
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


if __name__ == "__main__":
    # A parent that blocked these signals passes the mask on: stop on them all the same.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    server = Server(("127.0.0.1", int(sys.argv[1])), Endpoint)
    print(f"serving on {server.server_address[1]}", flush=True)
    threading.Thread(target=exit_with_parent, daemon=True).start()
    server.serve_forever()
