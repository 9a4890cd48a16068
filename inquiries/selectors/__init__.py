"""Read side: every query used twice lives here, with its joins built in, one module per feature
(docs/architecture.md has the map). Access is scoped through `visible_to(user)`.
"""
