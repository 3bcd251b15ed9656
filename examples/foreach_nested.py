"""A foreach inside a foreach: one task per (country, year), joined twice.

python examples/foreach_nested.py run
"""

from headwater import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    """Count something for every country and year, then total it."""

    @step
    def start(self):
        self.countries = ["fr", "nl", "jp"]
        self.next(self.country, foreach="countries")

    @step
    def country(self):
        """One task per country; self.input is this task's country."""
        self.country_code = self.input
        self.years = [2024, 2025]
        self.next(self.year, foreach="years")

    @step
    def year(self):
        """One task per (country, year); foreach_stack() shows both levels."""
        (country_index, _, country), (year_index, _, year) = self.foreach_stack()
        self.count = len(country) * 1000 + year
        print(f"{country}/{year}: {self.count} (indices {country_index}, {year_index})")
        self.next(self.join_years)

    @step
    def join_years(self, inputs):
        self.total = sum(inp.count for inp in inputs)
        self.merge_artifacts(inputs, include=["country_code"])
        self.next(self.join_countries)

    @step
    def join_countries(self, inputs):
        self.totals = {inp.country_code: inp.total for inp in inputs}
        self.next(self.end)

    @step
    def end(self):
        print("totals:", self.totals)


if __name__ == "__main__":
    NestedForeachFlow()
