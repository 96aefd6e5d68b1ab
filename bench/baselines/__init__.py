"""The two apps every mockyard figure is compared with, served by uvicorn as mockyard is."""
