"""What people read: report.json/report.md, run comparisons, leaderboards, charts and the run browser."""
