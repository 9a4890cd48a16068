"""SLA reports: aggregate queries, the tables every output renders, SVG charts and CSV export.

- `scope`: what a report covers (accounts the user may see, filters, period, time zone).
- `queries`: one GROUP BY per figure over clocks, messages and the event logs.
- `rollup`: the same figures from the rollups when they can answer: compliance counts
  (`SlaRollup`), duration statistics (`DurationRollup`), the volume heatmap (`VolumeRollup`).
- `measured`: the measured clocks packed for `DurationRollup`, and their statistics (numpy).
- `counts`: `ComplianceCounts` and `DurationStats`, the values both of them return.
- `report`: `build_table()` (page, CSV and API alike) and `build_report()` for the page.
- `tables`, `export`, `charts`, `expressions`: presentation and portable SQL helpers.

Definitions: docs/reports.md.
"""
