"""A greeter in Python, with the official StateFun SDK: python greeter.py [PORT]."""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from statefun import (Context, IntType, Message, RequestReplyHandler, StatefulFunctions, ValueSpec,
                      kafka_egress_message, make_json_type)

GREET_REQUEST = make_json_type("example/GreetRequest")
functions = StatefulFunctions()


@functions.bind(typename="example/python-greeter", specs=[ValueSpec(name="seen", type=IntType)])
def greet(context: Context, message: Message):
    name = message.as_type(GREET_REQUEST)["name"]
    seen = (context.storage.seen or 0) + 1
    context.storage.seen = seen
    context.send_egress(kafka_egress_message(typename="example/greetings", topic="python-greetings", key=name,
                                             value=f"Hello {name}, visit number {seen}."))


handler = RequestReplyHandler(functions)


class Endpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms wait between them

    def do_POST(self):
        try:
            reply, status = handler.handle_sync(self.rfile.read(int(self.headers["Content-Length"]))), 200
        except Exception as error:
            reply, status = str(error).encode(), 500
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


ThreadingHTTPServer.request_queue_size = 256
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8000), Endpoint).serve_forever()
