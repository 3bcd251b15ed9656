"""The smallest flow: two steps and an artifact.

python examples/hello.py run
"""

from headwater import FlowSpec, step


class HelloFlow(FlowSpec):
    """Say hello, and pass a message from one step to the next."""

    @step
    def start(self):
        """Set an artifact: anything stored on self."""
        self.message = "Hello from Headwater"
        print(self.message)
        self.next(self.end)

    @step
    def end(self):
        """Read it back in a later step (in another process)."""
        print(f"start said: {self.message!r}")


if __name__ == "__main__":
    HelloFlow()
