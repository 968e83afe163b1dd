"""Lineage page (work in progress)."""

import streamlit as st

st.title("Lineage")
st.info("Coming soon.")
