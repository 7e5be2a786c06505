"""What is written or drawn: result files and folders, whole or not at all
(``files``), a sweep's resumable folder (``sweep_folder``), matplotlib plots
(``plots``) and the self-contained HTML report (``report``).
"""
