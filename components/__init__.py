"""Streamlit/folium/Plotly building blocks: functions from data to maps, figures and widgets."""
