"""Retention & behaviour page (work in progress)."""

import streamlit as st

st.title("Retention & behaviour")
st.info("Coming soon.")
