"""BalanceLine benchmarks (not tests: no timing assertions anywhere in the suite).

`python -m benchmarks.run` (or `make bench`) runs them and prints a table; docs/benchmarks.md has
the method, the machine and the latest numbers.

- `benchmarks.sms_load`: signed inbound SMS webhooks, open-loop at a fixed rate, from a separate
  load-generator process, against `balanceline serve --workers N` on PostgreSQL + Redis, with
  FakeTwilio in its own process; afterwards the database and FakeTwilio are checked for duplicates.
- `benchmarks.planning`: `scoring.prioritise` + `compliance.check` over 100,000 accounts in one process.
"""
