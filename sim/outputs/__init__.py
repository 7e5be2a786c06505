"""What is written or drawn: result files (``files``), matplotlib plots
(``plots``) and the self-contained HTML report (``report``).
"""
