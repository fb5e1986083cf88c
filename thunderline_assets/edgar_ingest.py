"""Where the CLI and sensors find the EDGAR landing classifier (the logic lives in thunderline.flow)."""

from thunderline.flow.edgar_partition import classify_edgar_file

__all__ = ["classify_edgar_file"]
