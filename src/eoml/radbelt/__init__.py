"""radbelt study: forecasting 1 MeV electrons in the outer Van Allen belt (PreMevE 2.0)."""
