"""Resume: fix a failed run without recomputing what already succeeded.

python examples/resume_walkthrough.py run
    # `square` runs 5 tasks, then `validate` fails.
RESUME_DEMO_FIXED=1 python examples/resume_walkthrough.py resume
    # prints its plan: start, square and total are cloned (no data copied), validate and end re-run.
python examples/resume_walkthrough.py resume square
    # re-runs `square` and everything after it, even though they succeeded.
"""

import os
import time

from headwater import FlowSpec, current, step


class ResumeFlow(FlowSpec):
    """A flow whose validation fails until the environment says the data is fixed."""

    @step
    def start(self):
        self.numbers = list(range(5))
        self.next(self.square, foreach="numbers")

    @step
    def square(self):
        """Pretend this is expensive: on resume it is cloned, not recomputed."""
        time.sleep(0.2)
        self.value = self.input**2
        self.next(self.total)

    @step
    def total(self, inputs):
        self.sum_of_squares = sum(inp.value for inp in inputs)
        self.next(self.validate)

    @step
    def validate(self):
        if os.environ.get("RESUME_DEMO_FIXED") != "1":
            raise ValueError("validation failed: set RESUME_DEMO_FIXED=1, then resume")
        print(f"validated {self.sum_of_squares} (resuming run {current.origin_run_id})")
        self.next(self.end)

    @step
    def end(self):
        print(f"sum of squares: {self.sum_of_squares}")


if __name__ == "__main__":
    ResumeFlow()
