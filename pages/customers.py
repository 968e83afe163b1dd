"""Customers page (work in progress)."""

import streamlit as st

st.title("Customers")
st.info("Coming soon.")
