"""The SacralTumorAI browser app on trame-slicer: a thin front end over ``SacralTumorAILib`` (the same Logic
as the Slicer module) and the core. ``sacral-tumor-ai web`` starts it."""
