"""hoichan CXR triage: training, export and evaluation (Python half).

Only ``preprocess`` is needed at inference parity-test time (numpy + Pillow);
everything else needs the full training venv (scripts/ml-venv.sh).
"""
