"""What people read: report.json/report.md, run comparisons, leaderboards and charts."""
