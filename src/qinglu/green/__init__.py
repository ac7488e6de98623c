"""Green electricity: power projects, green certificates (GEC, 绿证) and green-power claims."""
