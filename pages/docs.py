"""Docs page (work in progress)."""

import streamlit as st

st.title("Docs")
st.info("Coming soon.")
