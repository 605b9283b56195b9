"""Importing the big public data files that make the referral-potential score real.

Kinds (each its own module, each import one database transaction):
- `medicare.import_by_provider`: CMS "Medicare Physician & Other Practitioners – by Provider":
  per NPI the Medicare beneficiaries and services a year and the Medicare specialty.
- `medicare.import_by_service`: the same dataset "– by Provider and Service": only the
  PT-generating procedure codes of `procedures.PT_PROCEDURES`, per NPI and code.
- `shared_patients.import_pairs`: CMS "Physician Shared Patient Patterns" (no header, five
  columns) or DocGraph "Hop Teaming" (six columns), kept only where one side matters to the
  practice (its area, its own NPI, a PT competitor).
- `nppes_file.import_nppes`: the NPPES "Full Replacement Monthly" `npidata_pfile` (or a state
  extract with the same header): the providers of chosen states and specialty groups, upserted
  into `provider` the way the live registry search does.

The big scans run in DuckDB with the projection and the filter inside the scan, so a 10 GB file
never reaches pandas; only the kept rows are written to the app's database. `signals` reads
what was imported back for the map, the score and the provider card.
"""
