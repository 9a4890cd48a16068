"""Account health as read from the database: the metrics' aggregate SQL (`metrics`, `refs`), the
marketplace metrics from orders (`order_metrics`), the plan of action's facts and annex
(`evidence`, `annex`), and the accounts a user may see (`accounts`). The definitions and the
scoring are pure, in `inquiries.health`.
"""
