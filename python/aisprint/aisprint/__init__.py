"""AI-SPRINT annotations and the monitoring client of the aisprint-agent.

``from aisprint.annotations import component_name, exec_time`` is all a component needs;
``aisprint.monitoring.report_metric`` publishes custom metrics.
"""

__version__ = "0.1.0"
