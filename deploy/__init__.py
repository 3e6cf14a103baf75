"""Deployment: the CloudFormation template and the script that turns its outputs into settings."""
