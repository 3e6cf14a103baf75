import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def api(staff_client, s3_bucket):  # type: ignore[no-untyped-def]
    """A staff session against a fresh bucket on the emulator."""
    return staff_client
