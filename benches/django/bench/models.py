from django.db import models


class MyModel(models.Model):
    """canter's demo model (`demo_mymodel`), the same columns."""

    name = models.CharField(max_length=100)
    active = models.BooleanField()

    class Meta:
        db_table = "demo_mymodel"
