"""The example panel's tests, written with the HubSpot plugin's test kit."""
