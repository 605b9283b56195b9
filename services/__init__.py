"""Plain-Python core of Referral Atlas: storage, reference data, geo math, scoring, demo data.

Nothing in this package imports Streamlit, folium or Plotly, so every rule here can be
tested fast and reused outside the UI.
"""
